"""factory-boy factories. ``ClientFactory`` keeps the plaintext secret on ``.secret``."""

import factory
from django.contrib.auth import get_user_model

from oauth_tokens.provider.models import Client


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    @factory.post_generation
    def password(obj, create, extracted, **kwargs):
        obj.set_password(extracted or "pw")
        if create:
            obj.save(update_fields=["password"])


class ClientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Client
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"client {n}")
    client_type = Client.CONFIDENTIAL
    grant_types = "authorization_code refresh_token client_credentials"
    redirect_uris = "https://app.example.test/cb\nhttp://127.0.0.1/cb"
    scope = "read write openid profile email"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        client = model_class(*args, **kwargs)
        client.secret = client.set_secret() if client.is_confidential else None
        client.save()
        return client


class PublicClientFactory(ClientFactory):
    client_type = Client.PUBLIC
    grant_types = "authorization_code refresh_token"
