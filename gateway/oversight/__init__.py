"""Reading the access log for people: auditors' listings, exports and summaries, a
resident's access history and the links that open it.

These sit above the log and the domains it records (gateway/auditlog/ writes and verifies;
the scope a department sees comes from the catalogue, a justification from the query
request), so the log below imports none of them.
"""
