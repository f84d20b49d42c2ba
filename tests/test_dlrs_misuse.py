"""The scheduler API's sharp edges, each answered with a message that says what to do: step(loss)
(the ReduceLROnPlateau habit), step() after every batch (windows of one loss), a numpy loss, and
DLRS handed over to inside SequentialLR."""

from __future__ import annotations

import warnings

import pytest
import torch

from dlrs import DLRS, Adacomp, Static
from test_dlrs_slope_estimates import close, lrs, sgd

pytestmark = [pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before:UserWarning"),
              # torch's own warning when step(epoch) is used, which one test checks still works
              pytest.mark.filterwarnings("ignore:The epoch parameter in `scheduler.step\\(\\)`:UserWarning")]


@pytest.mark.parametrize("loss", [0.37, torch.tensor(0.37), torch.tensor(0.37, requires_grad=True) * 1, True])
@pytest.mark.parametrize("make", [DLRS, Adacomp, Static])
def test_step_with_one_loss_says_what_to_do(make, loss) -> None:
    sched = make(sgd(0.005))
    with pytest.raises(TypeError, match=r"got one loss .* call observe\(loss\) after every batch and step\(\) with "
                                        r"no argument once per epoch") as info:
        sched.step(loss)
    assert "\n" not in str(info.value)
    assert sched.last_epoch == 0 and sched.get_last_lr() == [0.005]
    sched.step(3)  # an int is still torch's (deprecated) step(epoch)
    assert sched.last_epoch == 3


@pytest.mark.parametrize("observed", [0, 1])
def test_step_every_batch_warns_once_with_the_fix(observed: int) -> None:
    """A Python warning (warnings.catch_warnings and pytest see it), once per scheduler, pointing at
    the caller's line; later short windows go to the debug log only."""
    opt = sgd(0.005)
    sched = DLRS(opt)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for batch in range(6):
            for _ in range(observed):
                sched.observe(torch.tensor(1.0 + batch))
            sched.step()
    hints = [w for w in caught if "observe(loss)" in str(w.message)]
    assert len(hints) == 1 and hints[0].category is UserWarning and hints[0].filename == __file__, caught
    message = str(hints[0].message)
    assert "unchanged" in message and "observe(loss) after every batch and step() once per epoch" in message
    assert "every=N" in message
    assert lrs(opt) == [0.005]


def test_a_short_window_after_normal_epochs_still_warns_once_and_normal_windows_still_decide() -> None:
    opt = sgd(0.005)
    sched = DLRS(opt)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for v in (2.0, 1.0):
            sched.observe(v)
        sched.step()
        sched.observe(1.0)
        sched.step()
        sched.observe(1.0)
        sched.step()
        for v in (1.0, 3.0):
            sched.observe(v)
        sched.step()
    assert len([w for w in caught if "observe(loss)" in str(w.message)]) == 1 and sched.last_regime == "divergent"


def test_step_with_a_numpy_loss_says_what_to_do() -> None:
    np = pytest.importorskip("numpy")
    for loss in (np.float32(0.37), np.array(0.37)):
        with pytest.raises(TypeError, match="got one loss"):
            DLRS(sgd(0.005)).step(loss)


def test_epoch_mean_inside_sequential_lr_starts_at_its_milestone() -> None:
    from torch.optim.lr_scheduler import LinearLR, SequentialLR

    opt = sgd(0.005)
    sched = DLRS(opt, slope="epoch_mean")
    seq = SequentialLR(opt, [LinearLR(opt, start_factor=0.5, total_iters=1), sched], milestones=[2])
    for epoch, window in enumerate([(9.0, 9.0), (8.0, 8.0), (3.0, 3.0), (2.5, 1.5)]):
        for v in window:
            sched.observe(v)  # ignored before the milestone (epochs 0, 1)
        seq.step()
        if epoch == 2:  # DLRS's first epoch: only its mean, 3, is recorded
            assert sched.last_slope is None and lrs(opt) == [0.005]
    assert sched.last_slope == close(-0.4) and lrs(opt) == [close(0.00504)]
