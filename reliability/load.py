"""Placeholder: the load part (being written)."""


def add_arguments(parser):
    pass


def run(args):
    print("not written yet")
    return True
