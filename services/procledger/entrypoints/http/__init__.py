"""The HTTP apps (intake and audit) and what they share: auth, problems, request metrics."""
