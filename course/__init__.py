"""The Face Recognition course: graded functions, their tests, figures, and the instructor's tools.

* :mod:`course.solutions`: reference solutions of the five graded functions and the Happy House data;
* :mod:`course.public_tests` / :mod:`course.hidden_tests`: tests that take a student's function
  (``select_triplets``'s in :mod:`course.triplet_selection_tests`);
* :mod:`course.triplet_training`: the training section (the student's loss and selection at work);
* :mod:`course.demo` / :mod:`course.figures`: the notebook's ungraded computations and figures;
* :mod:`course.notebook_tools`, :mod:`course.grader`, ``python -m course``: the student notebook and grading.

Importing this package is cheap; TensorFlow loads with the modules that need it.
"""

# The graded functions, in the notebook's order.
GRADED_FUNCTIONS = ("triplet_loss", "img_to_encoding", "verify", "who_is_it", "select_triplets")
