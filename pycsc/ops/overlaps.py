# SCAFFOLD: replaced by the overlaps kernel.
def Overlaps(*args, **kwargs):
    raise NotImplementedError('Overlaps')

def overlaps(*args, **kwargs):
    raise NotImplementedError('overlaps')

