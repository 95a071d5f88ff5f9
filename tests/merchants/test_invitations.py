"""Invitations (a new merchant's owner, a new member), the password-reset email in Kassa's words, and the
members' own email settings page; in Django's test outbox, English and French (merchants/emails.py)."""

import re

import pytest
from django.core.management import call_command
from django.utils import translation

from merchants import services
from merchants.models import EmailSent, Membership
from merchants.tasks import invitation_send
from tests import factories

FRENCH = {"HTTP_ACCEPT_LANGUAGE": "fr-FR,fr;q=0.9"}
PASSWORD = "a-Long-pass-123"

WORDS = {
    "en": {
        "owner_subject": "You are invited to Gamma's Kassa dashboard",
        "owner": "Gamma now takes payments with Kassa, and you are its owner.",
        "member": "You were added to Alpha's Kassa dashboard as viewer.",
        "choose": "Choose your password",
        "support": "support email is",
    },
    "fr": {
        "owner_subject": "Vous êtes invité sur le tableau de bord Kassa de Gamma",
        "owner": "Gamma encaisse désormais ses paiements avec Kassa, et vous en êtes le propriétaire.",
        "member": "Vous avez été ajouté au tableau de bord Kassa de Alpha en tant que lecteur.",
        "choose": "votre mot de passe",
        "support": "L\u2019e-mail d\u2019assistance de",
    },
}


def parts(message) -> tuple[str, str]:
    (html, mimetype) = message.alternatives[0]
    assert mimetype == "text/html"
    return message.body, html


def set_password_through_the_link(client, message) -> None:
    """What the invited person does: open the link, choose a password (Django's reset pages under /reset/)."""
    link = re.search(r"http://127\.0\.0\.1:8000(/reset/\S+/)", message.body).group(1)
    assert link in parts(message)[1]
    form = client.get(link, follow=True)
    assert form.status_code == 200
    done = client.post(form.redirect_chain[-1][0], {"new_password1": PASSWORD, "new_password2": PASSWORD})
    assert done.status_code == 302
    # One time only: the same link again is refused.
    assert "new_password1" not in client.get(link, follow=True).content.decode()


def log_in(client, email) -> bool:
    client.logout()
    return client.post("/admin/login/", {"username": email, "password": PASSWORD}).status_code == 302


@pytest.mark.parametrize("language", ["en", "fr"])
def test_platform_staff_onboard_a_merchant_and_its_owner_is_invited(client, db, emails_on_commit, mailoutbox, language):
    client.force_login(factories.platform_staff())
    form = {
        "name": "Gamma",
        "support_email": "help@gamma.test",
        "default_currency": "eur",
        "owner_email": "boss@gamma.test",
        "owner_password": "",
    }
    with emails_on_commit(), translation.override(language):  # the creator's language (the dashboard's)
        page = client.post("/admin/merchants/merchant/add/", form, **(FRENCH if language == "fr" else {}))
    assert page.status_code == 200
    (invitation,) = mailoutbox
    words = WORDS[language]
    assert invitation.to == ["boss@gamma.test"]
    assert invitation.subject == words["owner_subject"]
    for body in parts(invitation):
        for word in (words["owner"], words["choose"], "help@gamma.test", "boss@gamma.test", "Gamma"):
            assert word in body, (word, body)
        assert "Thanks for using our site" not in body
        assert "sk_test_" not in body  # keys are shown once on the page, never emailed
    membership = Membership.objects.get(user__email="boss@gamma.test")
    assert membership.language == language
    client.logout()
    set_password_through_the_link(client, invitation)
    assert log_in(client, "boss@gamma.test")
    assert "Gamma" in client.get("/admin/").content.decode()


def test_merchant_create_command_invites_the_owner(db, emails_on_commit, mailoutbox, client):
    with emails_on_commit():
        call_command("merchant_create", "--name", "Delta", "--owner-email", "owner@delta.test", "--language", "fr")
        call_command("merchant_create", "--name", "Quiet", "--owner-email", "q@quiet.test", "--no-invite")
    (invitation,) = mailoutbox
    assert invitation.to == ["owner@delta.test"]
    assert "Delta encaisse désormais" in invitation.body
    set_password_through_the_link(client, invitation)
    assert log_in(client, "owner@delta.test")


@pytest.fixture
def alpha(db):
    shop = factories.merchant("Alpha")
    services.merchant_update(merchant=shop.merchant, support_email="help@alpha.test")
    return shop


@pytest.mark.parametrize("language", ["en", "fr"])
def test_a_new_member_is_invited_in_the_inviters_language(client, alpha, emails_on_commit, mailoutbox, language):
    client.force_login(alpha.owner)
    with emails_on_commit(), translation.override(language):
        added = client.post(
            "/admin/merchants/membership/add/",
            {"email": "new@alpha.test", "role": "viewer"},
            **(FRENCH if language == "fr" else {}),
        )
    assert added.status_code == 302
    (invitation,) = mailoutbox
    words = WORDS[language]
    assert invitation.to == ["new@alpha.test"]
    for body in parts(invitation):
        for word in (words["member"], words["choose"], words["support"], "help@alpha.test"):
            assert word in body, (word, body)
    set_password_through_the_link(client, invitation)
    assert log_in(client, "new@alpha.test")
    assert "Alpha" in client.get("/admin/").content.decode()


def test_someone_with_a_password_is_told_to_log_in_and_an_invitation_goes_once(
    client, alpha, other_shop, emails_on_commit, mailoutbox
):
    existing = other_shop.owner  # has a password already (the factories set one)
    with emails_on_commit():
        membership = services.membership_add(
            merchant=alpha.merchant, email=existing.email, role="developer", invite=True
        )
        # Adding them again only changes the role: no second invitation; a retried task sends nothing.
        services.membership_add(merchant=alpha.merchant, email=existing.email, role="viewer", invite=True)
        invitation_send.delay(membership.pk)
    (invitation,) = mailoutbox
    assert "/reset/" not in invitation.body
    assert "Log in with your existing Kassa password" in invitation.body
    assert EmailSent.objects.filter(key=f"invitation:member:{membership.pk}").count() == 1


@pytest.mark.parametrize("language", ["en", "fr"])
def test_the_password_reset_email_is_kassas_own(client, alpha, mailoutbox, language):
    with translation.override(language):
        client.post("/admin/password_reset/", {"email": alpha.owner.email}, **(FRENCH if language == "fr" else {}))
    (message,) = mailoutbox
    text, html = parts(message)
    expected = {
        "en": ("Reset your Kassa password", "Someone asked to reset the password of the Kassa dashboard account"),
        "fr": ("Réinitialisez votre mot de passe Kassa", "Quelqu\u2019un a demandé à réinitialiser le mot de passe"),
    }[language]
    assert message.subject == expected[0]
    for body in (text, html):
        assert expected[1] in body
        assert "Thanks for using our site" not in body
        assert "team" not in body
        assert "/reset/" in body


def test_members_set_their_own_notices_and_only_for_the_merchant_in_view(client, alpha, other_shop):
    viewer = factories.staff(alpha.merchant, "viewer", email="viewer@alpha.test")
    services.membership_add(merchant=other_shop.merchant, email="viewer@alpha.test", role="viewer")
    client.force_login(viewer)
    assert 'href="/admin/email-settings/" id="kassa-email-settings-link"' in client.get("/admin/").text
    page = client.get("/admin/email-settings/")
    assert page.status_code == 200
    assert "Alpha" in page.content.decode()
    saved = client.post("/admin/email-settings/", {"notify_payments": "on", "notify_failures": "on", "language": "fr"})
    assert saved.status_code == 302
    mine = Membership.objects.get(user=viewer, merchant=alpha.merchant)
    assert (mine.notify_payments, mine.notify_failures, mine.language) == (True, True, "fr")
    elsewhere = Membership.objects.get(user=viewer, merchant=other_shop.merchant)
    assert (elsewhere.notify_payments, elsewhere.notify_failures, elsewhere.language) == (False, False, "en")
    # A viewer still cannot change anyone's membership; platform staff have no membership to set.
    owner_membership = Membership.objects.get(merchant=alpha.merchant, role="owner")
    client.post(
        f"/admin/merchants/membership/{owner_membership.pk}/change/",
        {"role": "owner", "notify_payments": "", "notify_failures": "", "language": "fr"},
    )
    owner_membership.refresh_from_db()
    assert (owner_membership.notify_payments, owner_membership.language) == (True, "en")
    client.force_login(factories.platform_staff())
    assert "kassa-email-settings-link" not in client.get("/admin/").text
    assert client.get("/admin/email-settings/").status_code == 404


def test_managers_set_a_members_notices_on_the_members_page(client, alpha, other_shop):
    member = Membership.objects.get(user=factories.staff(alpha.merchant, "developer"), merchant=alpha.merchant)
    client.force_login(alpha.owner)
    changed = client.post(
        f"/admin/merchants/membership/{member.pk}/change/",
        {"role": "developer", "notify_payments": "on", "notify_failures": "", "language": "fr"},
    )
    assert changed.status_code == 302
    member.refresh_from_db()
    assert (member.notify_payments, member.notify_failures, member.language) == (True, False, "fr")
    # Another merchant's owner cannot reach it.
    client.force_login(other_shop.owner)
    assert client.get(f"/admin/merchants/membership/{member.pk}/change/").status_code in (302, 404)
    client.post(
        f"/admin/merchants/membership/{member.pk}/change/",
        {"role": "developer", "notify_payments": "", "notify_failures": "on", "language": "en"},
    )
    member.refresh_from_db()
    assert (member.notify_payments, member.notify_failures, member.language) == (True, False, "fr")


def test_receipts_are_switched_on_the_merchant_settings_page(client, alpha):
    client.force_login(alpha.owner)
    page = client.get(f"/admin/merchants/merchant/{alpha.merchant.pk}/change/").content.decode()
    assert 'name="receipts_enabled"' in page
    form = {
        "name": "Alpha",
        "support_email": "help@alpha.test",
        "default_currency": "usd",
        "receipts_enabled": "",
    }
    assert client.post(f"/admin/merchants/merchant/{alpha.merchant.pk}/change/", form).status_code == 302
    alpha.merchant.refresh_from_db()
    assert alpha.merchant.receipts_enabled is False
