"""The platform: users and roles, functions, files, tasks, the queue and the audit log."""
