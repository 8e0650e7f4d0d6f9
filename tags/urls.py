from rest_framework.routers import SimpleRouter

from tags.api import TagViewSet

router = SimpleRouter(trailing_slash=True)
router.register("tags", TagViewSet, basename="tag")
urlpatterns = router.urls
