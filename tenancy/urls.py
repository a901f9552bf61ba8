from django.urls import path

from tenancy import views

urlpatterns = [
    path("otp/", views.otp_step, name="account-otp"),
    path("logout/", views.sign_out, name="account-logout"),
    path("sessions/", views.sessions, name="account-sessions"),
]
