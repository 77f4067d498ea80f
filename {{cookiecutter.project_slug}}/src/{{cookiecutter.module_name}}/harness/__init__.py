"""The machinery of the benchmark: you do not need to edit this.

Your benchmark lives one level up (params.py, data.py, predict.py, metrics.py and the kind's own
files); ``kind.py`` here is the contract between the two sides: every name your files provide
and what the machinery does with it.
"""
