"""The FastAPI approval API: HR, finance, compliance, IT and employees act on cases here.

Talks to Temporal through one client created in the app's lifespan and reads the database for
lists and reports. Never writes process state directly: changes reach workflows as messages.
May import ``domain``, ``db``, ``workflows`` (names and message models) and hrflow's platform
modules (settings, codec, Temporal connection, logs); never ``activities``.
"""
