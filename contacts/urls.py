from django.urls import path
from rest_framework.routers import SimpleRouter

from contacts.api import AttributeDefinitionViewSet, ContactIdentifierViewSet, ContactViewSet
from contacts.api_merge import (
    ContactMergePreviewView,
    ContactMergeView,
    DuplicateViewSet,
    MatchingRulesView,
    MergeViewSet,
)

router = SimpleRouter(trailing_slash=True)
router.register("contacts", ContactViewSet, basename="contact")
router.register("attribute-definitions", AttributeDefinitionViewSet, basename="attribute-definition")
router.register("duplicates", DuplicateViewSet, basename="duplicate")
router.register("merges", MergeViewSet, basename="merge")

identifier_list = ContactIdentifierViewSet.as_view({"get": "list", "post": "create"})
identifier_detail = ContactIdentifierViewSet.as_view({"patch": "partial_update", "delete": "destroy"})

urlpatterns = [
    path("contacts/<str:pk>/merge/", ContactMergeView.as_view(), name="contact-merge"),
    path("contacts/<str:pk>/merge/preview/", ContactMergePreviewView.as_view(), name="contact-merge-preview"),
    path("matching-rules/", MatchingRulesView.as_view(), name="matching-rules"),
    path("contacts/<str:contact_pk>/identifiers/", identifier_list, name="contact-identifier-list"),
    path(
        "contacts/<str:contact_pk>/identifiers/<str:pk>/", identifier_detail, name="contact-identifier-detail"
    ),
    *router.urls,
]
