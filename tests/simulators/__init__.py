"""Local stand-ins for outside platforms hrflow talks to, speaking their documented formats."""
