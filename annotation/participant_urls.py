"""Pages of people taking the SVO slider, under /p/."""

from __future__ import annotations

from django.urls import path

from annotation import participant_views as views

urlpatterns = [
    path("done", views.done, name="svo-done"),
    path("retest/<str:token>/", views.retest, name="svo-retest"),
    path("retest/<str:token>/items", views.retest_items, name="svo-retest-items"),
    path("<str:token>/", views.join, name="svo-join"),
    path("<str:token>/instructions", views.instructions, name="svo-instructions"),
    path("<str:token>/items", views.items, name="svo-items"),
]
