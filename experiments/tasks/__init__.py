"""Tasks: Helmholtz PINN and image classification."""
