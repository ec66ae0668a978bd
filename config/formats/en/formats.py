# One date format across the console: what the admin shows for date and time fields matches the
# console's own columns ("2026-12-07 13:19 UTC", foundation.wording.console_time), in the time
# zone active for the person reading.
DATETIME_FORMAT = "Y-m-d H:i T"
SHORT_DATETIME_FORMAT = "Y-m-d H:i T"
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
TIME_FORMAT = "H:i"
