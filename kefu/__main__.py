"""`python -m kefu ...`: the `kefu` command, also as the module torchrun starts (`torchrun -m kefu train ...`)."""

from kefu.cli import app

if __name__ == "__main__":
    app(prog_name="kefu")
