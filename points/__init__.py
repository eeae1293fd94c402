"""Points (积分): the double-entry ledger, awards from service time, the shop, expiry, stars,
commendations and certificates. Built by the points issue; empty until then."""
