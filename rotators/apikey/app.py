"""Third-party API keys (SendGrid, Datadog, any REST key API): the secret's "provider" picks one."""

from rotor.apikeys import ApiKeyRotator

lambda_handler = ApiKeyRotator().handler
