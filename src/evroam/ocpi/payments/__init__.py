"""OCPI payments module (2.3.0): our Receiver interface as the CPO."""
