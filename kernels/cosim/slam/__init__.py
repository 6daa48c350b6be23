"""SLAM tools of the user server: trajectory files, ATE/RPE through evo, the ``cosim slam`` CLI.

Heavy imports (numpy, evo, OpenCV) happen inside the functions that need them, so the ``cosim``
command's dispatcher can register ``slam`` without loading them.
"""
