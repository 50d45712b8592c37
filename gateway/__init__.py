"""Community Data Gateway (社区数据共享网关).

The service that composes the policies, anonymizers and audit libraries.
"""

__version__ = "0.1.0"
