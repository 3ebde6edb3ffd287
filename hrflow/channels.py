"""The channels a relay sends through beyond e-mail and group robots, as the settings configure them:
WeCom, DingTalk and Feishu messages, and SMS."""

from __future__ import annotations

from api.web.sso import dingtalk_api, feishu_api, wecom_api
from hrflow.settings import ConfigurationError, Settings
from integrations.dingtalk import DingTalkMessages
from integrations.feishu import FeishuMessages
from integrations.sms import AliyunSms
from integrations.wecom import WeComMessages


def wecom_messages(settings: Settings) -> WeComMessages | None:
    """Application messages to members, when the WeCom application is configured."""
    api = wecom_api(settings)
    return WeComMessages(api) if api is not None else None


def sms_sender(settings: Settings) -> AliyunSms | None:
    """Texts to employees without e-mail or IM, when Alibaba Cloud SMS is configured."""
    given = (settings.sms_access_key_id, settings.sms_access_key_secret, settings.sms_sign_name,
             settings.sms_template_code)
    if not any(given):
        return None
    if not all(given) or settings.sms_access_key_secret is None or settings.sms_access_key_id is None:
        raise ConfigurationError("HRFLOW_SMS_ACCESS_KEY_ID, HRFLOW_SMS_ACCESS_KEY_SECRET, HRFLOW_SMS_SIGN_NAME and"
                                 " HRFLOW_SMS_TEMPLATE_CODE go together")
    return AliyunSms(settings.sms_access_key_id, settings.sms_access_key_secret.get_secret_value(),
                     str(settings.sms_sign_name), str(settings.sms_template_code), endpoint=settings.sms_endpoint)


def dingtalk_messages(settings: Settings) -> DingTalkMessages | None:
    api = dingtalk_api(settings)
    return DingTalkMessages(api) if api is not None and api.agent_id else None


def feishu_messages(settings: Settings) -> FeishuMessages | None:
    api = feishu_api(settings)
    return FeishuMessages(api) if api is not None else None
