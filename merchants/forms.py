"""Password reset that also works as the invitation of a new member.

Django's reset form skips users whose password is unusable; a member added by
email has exactly that until they set one. Staff users with such a password
may use the reset link to set their first password: proof of the mailbox is
what both flows rely on.
"""

from django.contrib.auth import get_user_model
from django.contrib.auth.forms import PasswordResetForm


class MemberPasswordResetForm(PasswordResetForm):
    def get_users(self, email):
        User = get_user_model()
        return (
            user
            for user in User._default_manager.filter(email__iexact=email, is_active=True)
            if user.has_usable_password() or user.is_staff
        )
