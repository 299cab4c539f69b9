"""Device Bound Session Credentials (W3C DBSC): the registration and refresh endpoints and their enforcement."""
