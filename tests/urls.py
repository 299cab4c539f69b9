from __future__ import annotations

from django.urls import include, path

from tests import views

sync_patterns = [
    path("read/", views.read, name="read"),
    path("write/", views.write, name="write"),
    path("untouched/", views.untouched, name="untouched"),
    path("flag/", views.flag, name="flag"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("whoami/", views.whoami, name="whoami"),
    path("error/", views.error, name="error"),
    path("interrupted/", views.interrupted, name="interrupted"),
    path("form/", views.form, name="form"),
    path("api/", views.api, name="api"),
    path("conditional/", views.conditional, name="conditional"),
]

async_patterns = [
    path("read/", views.aread, name="read"),
    path("write/", views.awrite, name="write"),
    path("untouched/", views.auntouched, name="untouched"),
    path("flag/", views.aflag, name="flag"),
    path("login/", views.alogin_view, name="login"),
    path("logout/", views.alogout_view, name="logout"),
    path("whoami/", views.awhoami, name="whoami"),
    path("error/", views.aerror, name="error"),
    path("interrupted/", views.ainterrupted, name="interrupted"),
    path("form/", views.aform, name="form"),
    path("api/", views.api, name="api"),
    path("conditional/", views.aconditional, name="conditional"),
]

urlpatterns = [
    path("sync/", include((sync_patterns, "sync"))),
    path("async/", include((async_patterns, "async"))),
    path("landing/", views.landing, name="landing"),
]

# restriction_exempt (issue 3): appended to the namespaced lists, which include() reads lazily.
sync_patterns += [
    path("exempt/", views.exempt_read, name="exempt"),
    path("exempt-cbv/", views.exempt_read_cbv, name="exempt-cbv"),
    path("exempt-logout/", views.exempt_logout, name="exempt-logout"),
    path("exempt-login/", views.exempt_login, name="exempt-login"),
]
async_patterns += [
    path("exempt/", views.aexempt_read, name="exempt"),
    path("exempt-cbv/", views.aexempt_read_cbv, name="exempt-cbv"),
    path("exempt-logout/", views.aexempt_logout, name="exempt-logout"),
    path("exempt-login/", views.aexempt_login, name="exempt-login"),
]
