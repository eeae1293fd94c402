"""Service records (志愿服务记录): identity for them (identity), records, certificates."""
