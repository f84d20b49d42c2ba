"""The config schema (experiments/schema/): every key of every group option is declared, every declared key
exists, a new key cannot slip in unchecked, and every mistake is one line naming the key, the bad
value and what is allowed. In-process (``experiments.run.check_command_line`` is what the command
line checks before a job starts); tests/test_schema_cli.py runs a few through the real command line.
"""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from conftest import CONFIG_DIR, PRESETS
from experiments.config_check import check_config, resolve
from experiments.errors import UserError
from experiments.run import check_command_line
from experiments.schema import declared, group_options, keys_of, leaves, schema_for, validate
from experiments.schema.config import FIXED, REGISTRIES, Config

# one config per option of every group, so that every schema is used at least once
OPTIONS = ([[f"task={t}"] for t in group_options("task")]
           + [[f"model={m}", "task=helmholtz" if m == "pinn_mlp" else "task=mnist"] for m in group_options("model")]
           + [[f"optimizer={o}"] for o in group_options("optimizer")]
           + [[f"schedule={s}"] for s in group_options("schedule")])


def _undeclared(cfg) -> list[str]:
    data = OmegaConf.to_container(cfg, resolve=False)
    data.pop("hydra", None)
    return [".".join(path) for path in leaves(data) if not declared(path, data)]


def _shape(job: list[str]) -> tuple[str, ...]:
    """What decides a job's keys: its config-group choices and added/removed keys. Jobs that differ
    only in the values of existing keys (task.frequency=250 vs 500) have the same keys."""
    def decides(override: str) -> bool:
        key, _, value = override.partition("=")
        return "." not in key or key.startswith(("+", "~")) or "{" in value
    return tuple(o for o in job if decides(o))


@pytest.fixture(scope="module")
def preset_jobs() -> list:
    """A config of every preset's sweep per distinct set of keys (the keys of a job depend on its
    config-group choices only; option_configs holds +scale=smoke). Every single job's values, undeclared keys
    included, are validated by tests/test_configs.py."""
    out = []
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        for preset in PRESETS:
            overrides = [f"+experiment={preset}"]
            params = compose(config_name="config", overrides=overrides, return_hydra_config=True).hydra.sweeper.params
            sweeps = [[f"{k}={v}" for v in str(values).split(",")] for k, values in params.items()]
            choices = [s for s in sweeps if _shape(s[:1])] or [[]]
            out += [compose(config_name="config", overrides=[*overrides, *combination])
                    for combination in itertools.product(*choices)]
    return out


@pytest.fixture(scope="module")
def option_configs() -> list:
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return [compose(config_name="config", overrides=o) for o in [[], ["+scale=smoke"], *OPTIONS]]


def test_every_key_of_every_group_option_is_declared(option_configs) -> None:
    for cfg in option_configs:
        assert _undeclared(cfg) == [], (cfg.task.name, cfg.model.name, cfg.schedule.name)


def test_every_declared_key_is_in_a_config(preset_jobs, option_configs) -> None:
    """The converse: no schema entry is left over after a key is renamed or removed in configs/."""
    seen: dict[type, set[str]] = {}
    for cfg in preset_jobs + option_configs:
        data = OmegaConf.to_container(cfg, resolve=False)
        data.pop("hydra", None)
        for path in leaves(data):
            seen.setdefault(schema_for(path[:-1], data), set()).add(path[-1])
    schemas = {Config, *FIXED.values(), *(s for r in REGISTRIES.values() for s in r.schemas.values())}
    for schema in schemas:
        assert set(keys_of(schema)) - seen.get(schema, set()) - set(REGISTRIES) - set(FIXED) == set(), schema.__name__


def test_every_config_file_has_a_schema() -> None:
    for group, registry in REGISTRIES.items():
        for option in group_options(group):
            node = OmegaConf.to_container(OmegaConf.load(CONFIG_DIR / group / f"{option}.yaml"))
            node = node.get(group, node)  # schedule/adacomp.yaml is a _global_ package
            if "defaults" in node and registry.key not in node:
                continue  # extends another option of the group (dlrs_symmetric)
            registry.pick(node)  # a schema of its own, or its class's signature


def test_a_new_key_in_a_config_file_is_caught(tmp_path: Path) -> None:
    configs = tmp_path / "configs"
    shutil.copytree(CONFIG_DIR, configs)
    with open(configs / "trainer" / "default.yaml", "a") as f:
        f.write("new_knob: 3\n")
    with initialize_config_dir(config_dir=str(configs), version_base="1.3"):
        cfg = compose(config_name="config")
    assert _undeclared(cfg) == ["trainer.new_knob"]
    with pytest.raises(UserError, match=r"^trainer.new_knob is not a known setting; trainer has: .*epochs"):
        check_config(cfg)


def test_a_key_added_on_the_command_line_is_caught() -> None:
    with pytest.raises(UserError, match=r"^task.brand_new is not a known setting; task has: batch_size"):
        check_command_line(["+task.brand_new=1"])


def test_validate_takes_the_resolved_config(option_configs) -> None:
    config = validate(resolve(option_configs[0]))
    assert config.task.name == "helmholtz" and config.optimizer.lr == 0.005 and config.schedule.target == "dlrs.DLRS"
    assert type(config.model).__name__ == "PinnMLP" and config.model.hidden == [100, 100, 100]


# ---- one line: the key, the bad value, what is allowed ----------------------------------------------
CASES = [
    # optimizer hyperparameters out of torch's range
    (["optimizer.betas=[0.9,1.0]"], "optimizer.betas must be two numbers in [0, 1), got [0.9, 1.0]"),
    (["optimizer.betas=[0.9]"], "optimizer.betas must be two numbers in [0, 1), got [0.9]"),
    (["optimizer=sgd", "optimizer.momentum=-0.9"], "optimizer.momentum must be a finite number >= 0, got -0.9"),
    (["optimizer.weight_decay=abc"], "optimizer.weight_decay must be a finite number >= 0, got 'abc'"),
    (["optimizer.lr=nan"], "optimizer.lr must be a finite number > 0, got nan"),
    # a word where a number belongs, in keys nothing used to check
    (["task.p0=abc"], "task.p0 must be a finite number, got 'abc'"),
    (["task.eval_points=many"], "task.eval_points must be an integer in [2, 10000000], got 'many'"),
    (["task.speed_of_sound=fast"], "task.speed_of_sound must be a finite number > 0, got 'fast'"),
    (["task.n_points=1e3"], "task.n_points must be an integer in [1, 100000000], got 1000.0"),
    (["task.shuffle=yes"], "task.shuffle must be true or false, got 'yes'"),
    (["task.derivatives=symbolic"], "task.derivatives='symbolic' is not known; choose one of: forward, autograd"),
    (["task=mnist", "task.num_workers=-1"], "task.num_workers must be an integer in [0, 256], got -1"),
    (["task=cifar10", "task.in_channels=1"], "task.in_channels must be 3 (CIFAR-10 images are RGB), got 1"),
    (["model.hidden=[100,0]", "model.activations=[sin,cos]"],
     "model.hidden must be a list of one or more layer widths, each an integer in [1, 10000], got [100, 0]"),
    (["model.activations=[sin,cos]"], "model.activations has 2 entries but model.hidden has 3 layers"),
    # seeds
    (["trainer.seed=18446744073709551616"],
     "trainer.seed must be an integer in [0, 9223372036854775807], got 18446744073709551616"),
    (["trainer.seed=-1"], "trainer.seed must be an integer in [0, 9223372036854775807], got -1"),
    # interpolations
    (["run_name=${task.nope}"], "run_name: Interpolation key 'task.nope' not found; fix the ${...} reference"),
    (["experiment_name=${oc.env:DLRS_NO_SUCH_VARIABLE}"], "experiment_name: "),
    (["model.name=${task.nope}"], "model.name: Interpolation key 'task.nope' not found"),  # found by the explore profile
    # run_dir is ${paths.results}/...: the line names the key that holds the broken reference
    (["paths.results=${task.nope}"], "paths.results: Interpolation key 'task.nope' not found; fix the ${...} "
                                     "reference in paths.results"),
    (["run_name=a/b"], "run_name must be a non-empty name without '/'"),
    (["run_name=" + "x" * 300], "run_name must be a non-empty name without '/' of at most 255 bytes"),
    (["paths.data=7"], "paths.data must be a path (a non-empty string of at most 4096 bytes), got 7; to give a "
                       "number as text, quote it: paths.data=\"'7'\""),
    # group names and keys
    (["task.name=mnist"], "task.name='mnist' does not match the chosen task config (task=helmholtz); to choose "
                          "another task, write task=mnist"),
    # a class without a schema of its own: its signature says which keys it takes
    (["schedule._target_=torch.optim.lr_scheduler.OneCycleLR"], "schedule.delta_d is not a known setting; schedule "
                                                                "has: _partial_, _target_, anneal_strategy"),
    (["schedule=static", "schedule._target_=torch.optim.lr_scheduler.MultiStepLR"],
     "schedule.milestones is missing; set it on the command line (+schedule.milestones=...)"),
    (["schedule._target_=torch.optim.lr_scheduler.NoSuchLR"], "schedule._target_='torch.optim.lr_scheduler.NoSuchLR'"
                                                             " is not known: it does not name an importable class"),
    (["optimizer._target_=torch.optim.RMSprop"], "optimizer.betas is not a known setting; optimizer has: _partial_, "
                                                 "_target_, alpha, capturable, centered"),
    (["model=resnet18", "task=mnist", "+model.width=2"], "model.width is not a known setting; model has: _target_, "
                                                         "name"),
    (["schedule=[dlrs,static]"], "schedule=[dlrs,static]: a config group takes one option; to run several, write -m"),
    (["trainer.tensorboard=1"], "trainer.tensorboard must be true or false, got 1"),
    # 1.0 == True: a key that must be true takes only true
    (["schedule._partial_=1.0"], "schedule._partial_ must be true (the optimizer is passed in later), got 1.0"),
    (["optimizer._partial_=1"], "optimizer._partial_ must be true (the parameters are passed in later), got 1"),
    (["report.references=[]"], "report.references must be a list of one or more schedule or optimizer names"),
    # rules between keys
    (["schedule=cosine", "optimizer.lr=1e-6"],
     "schedule.eta_min (5.55e-05) is above the initial rate optimizer.lr (1e-06)"),
    (["schedule=plateau", "schedule.min_lr=0.1"], "schedule.min_lr (0.1) is above the initial rate optimizer.lr"),
    (["schedule=exponential", "schedule.final_lr=null"], "give exactly one of schedule.gamma and schedule.final_lr"),
    (["schedule=dlrs_authors_cifar", "schedule.max_lr=1e-5"], "schedule.min_lr (0.0001) must be < schedule.max_lr"),
    (["task.speed_of_sound=200", "task.frequency=300"], "task.frequency=300 is a multiple of c/2 = 100 Hz"),
    # k is finite but k**2, in the residual, is not (found by the explore profile)
    (["task.frequency=7.255324287463266e+155"], "task.frequency=7.25532e+155 with task.speed_of_sound=340 gives a "
                                                "wavenumber k = 2*pi*f/c whose square is infinite"),
    (["task=mnist", "model=pinn_mlp"], "model=pinn_mlp does not fit task=mnist: model=pinn_mlp takes points x in "
                                       "[0, 1], task=mnist gives 28x28 images"),
    # sweep syntax (Hydra's flags: tests/test_schema_cli.py, through the command line)
    (["-m", "task.frequency=interval(100,200)"], "task.frequency=interval(100,200): interval() is for sweepers"),
    (["task.frequency=interval(100,200)"], "task.frequency=interval(100,200): interval() is for sweepers"),
    (["-m", "task.frequency=glob(*)"], "glob() picks config-group options"),
    (["-m", "schedule=glob(nothing*)"], "schedule=glob(nothing*): the sweep has no values: no schedule option matches"),
    (["-m", "task.frequency=tag(a,500,600)"], "cannot read 'task.frequency=tag(a,500,600)': TypeError while evaluating"),
    (["task.frequency=choice(500,600"], "cannot read 'task.frequency=choice(500,600': no viable alternative"),
    (["-m", "trainer.seed=50,51", "optimizer.lr=0.005,-1"],
     "optimizer.lr must be a finite number > 0, got -1 (sweep job 2 of 4: trainer.seed=50 optimizer.lr=-1)"),
]


@pytest.mark.parametrize(("args", "expected"), CASES, ids=[" ".join(a)[:60] for a, _ in CASES])
def test_mistakes_are_one_line_naming_key_value_and_allowed(args: list[str], expected: str) -> None:
    with pytest.raises(UserError) as error:
        check_command_line(args)
    message = str(error.value)
    assert "\n" not in message and message.strip() == message
    assert expected in message, message


@pytest.mark.parametrize("args", [
    [], ["task=mnist"], ["-m", "+experiment=fig2"], ["-m", "schedule=glob(dlrs*)"], ["-m", "trainer.seed=range(50,53)"],
    ["-m", "task.frequency=tag(hz,choice(500,600))"],
    ["run_name=${hydra:runtime.choices.schedule}-${trainer.seed}"], ["trainer.seed=9223372036854775807"],
    ["optimizer=sgd", "optimizer._target_=torch.optim.RMSprop"],  # an optimizer without a schema of its own
])
def test_valid_command_lines_pass(args: list[str]) -> None:
    check_command_line(args)
