"""Sinks: files, the live server and message brokers. Only sinks import broker clients."""

from .base import EventSink

__all__ = ["EventSink"]
