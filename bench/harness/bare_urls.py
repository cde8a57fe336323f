from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_GET


@require_GET
def bare(request):
    return render(request, "bench/bare.html", {"name": "Colloquy"})


urlpatterns = [path("", bare, name="bare")]
