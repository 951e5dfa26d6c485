# One date format everywhere (portal.dates): "5 Mar 2026" and "5 Mar 2026, 14:05".
DATE_FORMAT = "j M Y"
DATETIME_FORMAT = "j M Y, H:i"
SHORT_DATE_FORMAT = "j M Y"
SHORT_DATETIME_FORMAT = "j M Y, H:i"
TIME_FORMAT = "H:i"
FIRST_DAY_OF_WEEK = 1
MONTH_DAY_FORMAT = "j M"
