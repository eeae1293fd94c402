"""Service records (志愿服务记录): a volunteer's record as the civil-affairs rules
(志愿服务记录与证明出具办法) define it: basic personal information, service (from attendances, with
the hours the points ledger counted and the rule version that counted them), training,
commendations and evaluations; entries made more than 20 days after the activity (late: an admin
with a reason only, and marked); corrections keeping the old value, who and why. See
`docs/records.md`."""
