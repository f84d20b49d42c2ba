"""Names, colours and reference numbers shared by the report's tables and figures."""

from __future__ import annotations

EXPERIMENTS = ("fig2", "fig5", "fig8", "table1", "fig9")  # the paper's, for `make_report.py all`
PAPER_TABLE1 = {"simple_dla": (90.88, 91.30), "vgg19": (89.28, 91.98), "resnet18": (91.63, 92.12),
                "googlenet": (89.78, 92.90), "mobilenetv2": (90.81, 90.88)}  # SPEC Table 1: (Normal, DLRS)
ARCH_NAMES = {"simple_dla": "SimpleDLA", "vgg19": "VGG-19", "resnet18": "ResNet-18", "googlenet": "GoogLeNet",
              "mobilenetv2": "MobileNetV2", "mnist_cnn": "MNIST CNN", "pinn_mlp": "PINN MLP"}
# schedule name -> (label, colour); the order is the order of table rows and legends
SCHEDULES = {
    "static": ("Static", "tab:blue"), "adacomp": ("Adacomp", "tab:green"), "dlrs": ("DLRS", "tab:red"),
    "dlrs_uncapped": ("DLRS, no rate cap", "tab:pink"),
    "dlrs_symmetric": ("DLRS, δo = δi = 0.1", "hotpink"), "dlrs_authors_pinn": ("DLRS, authors' PINN rule", "tab:brown"),
    "dlrs_authors_cifar": ("DLRS, authors' CIFAR rule", "tab:olive"),
    "dlrs_lsq": ("DLRS, least-squares slope", "darkred"), "dlrs_epoch_mean": ("DLRS, epoch-mean slope", "salmon"),
    "dlrs_epoch_mean_symmetric": ("DLRS, epoch-mean slope, δo = δi = 0.1", "sienna"), "cosine": ("Cosine", "tab:purple"),
    "exponential": ("Exponential", "tab:orange"), "step": ("Step", "tab:cyan"), "plateau": ("Plateau", "tab:gray"),
    "replay": ("Replay", "black"),
    # optimizers that need no schedule (experiments.report.paired.method_of names their runs so)
    "schedule_free_adamw": ("Schedule-Free AdamW", "tab:olive"), "prodigy": ("Prodigy", "gold"),
}

# a schedule's label gains a note where another schedule is drawn beside it: (the other, the note)
NOTED_BESIDE = {"dlrs": ("dlrs_uncapped", "the task's rate bounds")}
