# Django's Arabic formats define SHORT_DATE_FORMAT ("d/m/Y" with right-to-left marks) but no
# date and time, so lists fell back to the English "m/d/Y P". Day first, 24-hour time, as CLDR;
# U+200F (RIGHT-TO-LEFT MARK) keeps the parts in order in right-to-left text, as Django's has.
DATETIME_FORMAT = "j F، Y H:i"
SHORT_DATETIME_FORMAT = "d\u200f/m\u200f/Y H:i"
