"""show(obj): display the source of library objects in a notebook, so the output is saved.

Used instead of `obj??`, whose pager output is not stored when a notebook runs headless.
"""

import inspect


def show(*objs):
    """Display the source of minidiff functions or classes as highlighted code."""
    from IPython.display import Code  # lazy: the library itself does not need IPython

    return Code("\n\n".join(inspect.getsource(o) for o in objs), language="python")
