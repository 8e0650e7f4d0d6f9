from django.urls import path
from rest_framework.routers import SimpleRouter

from consent.api import ConsentConfirmView, ConsentPurposeViewSet, ContactConsentsView

router = SimpleRouter(trailing_slash=True)
router.register("consent-purposes", ConsentPurposeViewSet, basename="consent-purpose")

urlpatterns = [
    path("contacts/<str:contact_pk>/consents/", ContactConsentsView.as_view(), name="contact-consents"),
    path("consent/confirm/<str:token>/", ConsentConfirmView.as_view(), name="consent-confirm"),
    *router.urls,
]
