from django.urls import path
from rest_framework.routers import SimpleRouter

from events.api import ActivityBatchView, ContactActivitiesView, OutboxEventViewSet

router = SimpleRouter(trailing_slash=True)
router.register("events", OutboxEventViewSet, basename="event")
urlpatterns = [
    path("contacts/<str:contact_pk>/activities/", ContactActivitiesView.as_view(), name="contact-activities"),
    path("activities/", ActivityBatchView.as_view(), name="activity-batch"),
    *router.urls,
]
