# One date format everywhere (portal.dates): "2026年3月5日" and "2026年3月5日 14:05".
DATE_FORMAT = "Y年n月j日"
DATETIME_FORMAT = "Y年n月j日 H:i"
SHORT_DATE_FORMAT = "Y年n月j日"
SHORT_DATETIME_FORMAT = "Y年n月j日 H:i"
TIME_FORMAT = "H:i"
FIRST_DAY_OF_WEEK = 1
MONTH_DAY_FORMAT = "n月j日"
