"""Migration day: copy every table Django manages from one database alias to another, and prove it.

One module per stage: ``tables`` (what is copied, in which order), ``preflight`` (what is
refused before anything is written), ``values`` (each value through its field, and the values
a target cannot hold), ``source`` (streaming reads), ``target`` (batched writes, emptying,
foreign keys), ``sequences``, ``progress``, ``copying`` (the copy itself) and ``verifying``.
"""
