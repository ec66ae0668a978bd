# The console's one date format (foundation.wording): what the admin shows for date and time
# fields matches the console's own columns, in the time zone active for the person reading.
from foundation.wording import CONSOLE_DATE_FORMAT, CONSOLE_DATETIME_FORMAT, CONSOLE_TIME_FORMAT

DATETIME_FORMAT = SHORT_DATETIME_FORMAT = CONSOLE_DATETIME_FORMAT
DATE_FORMAT = SHORT_DATE_FORMAT = CONSOLE_DATE_FORMAT
TIME_FORMAT = CONSOLE_TIME_FORMAT
