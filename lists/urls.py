from rest_framework.routers import SimpleRouter

from lists.api import ContactListViewSet

router = SimpleRouter(trailing_slash=True)
router.register("lists", ContactListViewSet, basename="list")
urlpatterns = router.urls
