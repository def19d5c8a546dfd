"""Training-only code (TensorFlow): ``train`` (nn4.small2 on BFW) and ``calibrate`` (model cards' thresholds).

Nothing here is imported by ``import facerec`` or by the practical commands;
``facerec train`` and ``python -m facerec.training.calibrate`` load it.
"""
