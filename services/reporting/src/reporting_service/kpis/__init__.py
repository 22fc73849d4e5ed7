"""KPIs over a date range, overall and by compressor model, engineer and region."""
