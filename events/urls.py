from rest_framework.routers import SimpleRouter

from events.api import OutboxEventViewSet

router = SimpleRouter(trailing_slash=True)
router.register("events", OutboxEventViewSet, basename="event")
urlpatterns = router.urls
