"""OCPI hubclientinfo module (2.2+): the ClientInfo a hub reports of the parties it connects."""
