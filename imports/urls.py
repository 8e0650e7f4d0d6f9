from django.urls import path
from rest_framework.routers import SimpleRouter

from imports.api import ExportJobViewSet, ImportJobViewSet

router = SimpleRouter(trailing_slash=True)
router.register("imports", ImportJobViewSet, basename="import")
router.register("exports", ExportJobViewSet, basename="export")

urlpatterns = [
    path(
        "imports/<str:pk>/errors.csv", ImportJobViewSet.as_view({"get": "errors_csv"}), name="import-errors"
    ),
    *router.urls,
]
