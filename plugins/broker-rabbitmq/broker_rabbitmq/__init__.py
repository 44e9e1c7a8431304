"""broker_rabbitmq: the parts of Cairn's RabbitMQ provider that `app.py`
puts together.

- `schemas`: the resource types and the configuration, as `describe`
  publishes them;
- `canonical`: what `validate` makes of a spec and `list` of the server's
  answer, in the same form;
- `marks`: where the owner mark is written on each type;
- `passwords`: RabbitMQ's salted password hashes, made and checked;
- `server`: the management HTTP API.
"""

from . import canonical, marks, passwords, schemas, server

__all__ = ["canonical", "marks", "passwords", "schemas", "server"]
