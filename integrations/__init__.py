"""Gateways to outside systems (social-insurance and housing-fund agencies, mail, webhooks).

Each gateway is an interface with a real adapter seam and an honest simulation for the embedded
default. Activities call them, and the notification relay (``hrflow.delivery``) the mail and
webhook senders. May import ``domain`` and ``db`` (a simulation keeps its own
records, as the real agency would).
"""
