"""Community Data Gateway (社区数据共享网关): the service that composes policies, anonymizers and audit."""

__version__ = "0.1.0"
