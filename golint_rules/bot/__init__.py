"""The GitLab merge-request bot: ``gorules bot serve`` / ``gorules bot worker``.

A webhook endpoint (:mod:`.server`) verifies and queues "Merge Request Hook"
deliveries in a durable queue (:mod:`.queue`: SQLite by default, Redis + RQ to
scale out); workers run the review job (:mod:`.job`): download the source tree
at the MR's head sha (:mod:`.archive`, extracted safely), scan it with the same
engine the CLI uses, post inline discussions on added lines, keep one summary
note and set the ``gorules`` commit status (:mod:`.gitlab_api`).

Nothing from a reviewed repository is executed: the tree is only read.
"""

STATUS_NAME = "gorules"
