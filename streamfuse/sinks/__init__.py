"""Sinks: files, the live server and message brokers. Only sinks import broker clients (and each
broker module imports its client only when a sink of that kind is opened)."""

from .base import EventSink
from .durable import DurableLog, Record
from .files import FileSink
from .uri import SINK_SCHEMES, open_sink

__all__ = ["EventSink", "open_sink", "SINK_SCHEMES", "FileSink", "DurableLog", "Record"]
