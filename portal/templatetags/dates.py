from django import template

from portal import dates

register = template.Library()
register.filter("when", dates.when)
register.filter("day", dates.day)
